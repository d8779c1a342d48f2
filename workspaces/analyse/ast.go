package analyse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// node is one object of DuckDB's JSON AST. The AST is kept generic (decoded
// with UseNumber so 64-bit query locations survive) because the rewrite edits it
// and hands it back to json_deserialize_sql: a typed mirror would drop fields
// DuckDB needs.
type node = map[string]any

// invalidLocation is DuckDB's "no location" (uint64 max).
var invalidLocation = json.Number("18446744073709551615")

func decode(data []byte) (node, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var n node
	if err := d.Decode(&n); err != nil {
		return nil, err
	}
	return n, nil
}

// jsonDepth returns the maximum nesting of objects and arrays in data, stopping
// early once it exceeds limit; it runs before decoding so a pathological AST
// never reaches the recursive decoder or our walkers.
func jsonDepth(data []byte, limit int) int {
	depth, maxDepth, inString, escaped := 0, 0, false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > maxDepth {
				maxDepth = depth
				if maxDepth > limit {
					return maxDepth
				}
			}
		case '}', ']':
			depth--
		}
	}
	return maxDepth
}

func str(n node, k string) string {
	s, _ := n[k].(string)
	return s
}

func obj(n node, k string) node {
	o, _ := n[k].(map[string]any)
	return o
}

func list(n node, k string) []any {
	l, _ := n[k].([]any)
	return l
}

func nodes(n node, k string) []node {
	var out []node
	for _, v := range list(n, k) {
		if o, ok := v.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

func boolean(n node, k string) bool {
	b, _ := n[k].(bool)
	return b
}

func strings_(n node, k string) []string {
	var out []string
	for _, v := range list(n, k) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func isNull(n node, k string) bool {
	v, ok := n[k]
	return !ok || v == nil
}

// clone deep-copies a JSON value so rewrites never alias the analyst's tree.
func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = clone(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = clone(x)
		}
		return l
	default:
		return v
	}
}

func cloneNode(n node) node { return clone(n).(map[string]any) }

// --- constructors for the nodes the rewrite adds -------------------------

func colRef(names ...string) node {
	l := make([]any, len(names))
	for i, s := range names {
		l[i] = s
	}
	return node{"class": "COLUMN_REF", "type": "COLUMN_REF", "alias": "", "query_location": invalidLocation, "column_names": l}
}

func emptyOrder() node { return node{"type": "ORDER_MODIFIER", "orders": []any{}} }

func fn(name string, children ...node) node {
	l := make([]any, len(children))
	for i, c := range children {
		l[i] = c
	}
	return node{"class": "FUNCTION", "type": "FUNCTION", "alias": "", "query_location": invalidLocation,
		"function_name": name, "schema": "", "children": l, "filter": nil, "order_bys": emptyOrder(),
		"distinct": false, "is_operator": false, "export_state": false, "catalog": ""}
}

func operator(name string, children ...node) node {
	n := fn(name, children...)
	n["is_operator"] = true
	return n
}

func withFilter(n, filter node) node {
	if filter != nil {
		n["filter"] = cloneNode(filter)
	}
	return n
}

func cast(child node, typ string) node {
	return node{"class": "CAST", "type": "OPERATOR_CAST", "alias": "", "query_location": invalidLocation,
		"child": child, "cast_type": node{"id": typ, "type_info": nil}, "try_cast": false}
}

func constInt(v int64) node {
	return node{"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": invalidLocation,
		"value": node{"type": node{"id": "BIGINT", "type_info": nil}, "is_null": false, "value": json.Number(fmt.Sprint(v))}}
}

func constString(s string) node {
	return node{"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": invalidLocation,
		"value": node{"type": node{"id": "VARCHAR", "type_info": nil}, "is_null": false, "value": s}}
}

func compare(typ string, l, r node) node {
	return node{"class": "COMPARISON", "type": typ, "alias": "", "query_location": invalidLocation, "left": l, "right": r}
}

func groupingFn(children []node) node {
	l := make([]any, len(children))
	for i, c := range children {
		l[i] = cloneNode(c)
	}
	return node{"class": "OPERATOR", "type": "GROUPING_FUNCTION", "alias": "", "query_location": invalidLocation, "children": l}
}

func as(n node, alias string) node {
	n["alias"] = alias
	return n
}

func selectNode() node {
	return node{"type": "SELECT_NODE", "modifiers": []any{}, "cte_map": node{"map": []any{}},
		"select_list": []any{}, "from_table": node{"type": "EMPTY", "alias": "", "sample": nil, "query_location": invalidLocation},
		"where_clause": nil, "group_expressions": []any{}, "group_sets": []any{},
		"aggregate_handling": "STANDARD_HANDLING", "having": nil, "sample": nil, "qualify": nil}
}

func subqueryRef(sel node, alias string) node {
	return node{"type": "SUBQUERY", "alias": alias, "sample": nil, "query_location": invalidLocation,
		"subquery": node{"node": sel, "named_param_map": []any{}}, "column_name_alias": []any{}}
}

func anyList[T any](xs []T) []any {
	l := make([]any, len(xs))
	for i, x := range xs {
		l[i] = x
	}
	return l
}

// canon returns a string that is equal for two expressions exactly when they are
// the same expression over the same resolved columns: locations and aliases are
// dropped and column references replaced by what they resolve to.
func canon(n any, resolve func(node) string) string {
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if str(v, "class") == "COLUMN_REF" && resolve != nil {
				fmt.Fprintf(&b, "col(%q)", resolve(v))
				return
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				if k != "query_location" && k != "alias" {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			b.WriteByte('{')
			for _, k := range keys {
				fmt.Fprintf(&b, "%q:", k)
				x := v[k]
				if k == "function_name" {
					if s, ok := x.(string); ok {
						x = strings.ToLower(s)
					}
				}
				walk(x)
				b.WriteByte(',')
			}
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for _, x := range v {
				walk(x)
				b.WriteByte(',')
			}
			b.WriteByte(']')
		default:
			j, _ := json.Marshal(v)
			b.Write(j)
		}
	}
	walk(n)
	return b.String()
}
