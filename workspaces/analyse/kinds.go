package analyse

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/opensde/sde/sde"
)

// Kinds of value, as far as the analyser can tell without binding: text, anything else, or
// unknown (""). They serve one rule, mixedKinds.
const (
	kindText  = "text"
	kindOther = "other" // not text; a number, or not known more closely
	kindBool  = "bool"
	kindDate  = "date"
	kindTime  = "timestamp"
)

// kindOfType is the kind of a DuckDB type name.
func kindOfType(t string) string {
	t = strings.ToUpper(strings.TrimSpace(t))
	switch {
	case t == "":
		return ""
	case t == "VARCHAR" || strings.HasPrefix(t, "VARCHAR(") || t == "TEXT" || t == "STRING" || t == "CHAR" || t == "BPCHAR":
		return kindText
	case t == "BOOLEAN" || t == "BOOL":
		return kindBool
	case t == "DATE":
		return kindDate
	case strings.HasPrefix(t, "TIMESTAMP"):
		return kindTime
	}
	return kindOther
}

// Functions whose result is text, and functions whose result never is, among those allowed.
var (
	textFuncs = setOf("lower", "upper", "lcase", "ucase", "substr", "substring", "left", "right", "trim",
		"ltrim", "rtrim", "concat", "concat_ws", "replace", "lpad", "rpad", "regexp_replace", "regexp_extract",
		"split_part", "strftime", "monthname", "dayname", "||")
	otherFuncs = setOf("+", "-", "*", "/", "//", "%", "**", "^", "abs", "round", "floor", "ceil", "ceiling",
		"trunc", "sign", "cbrt", "pow", "power", "exp", "even", "round_even", "length", "strlen", "strpos",
		"instr", "position", "starts_with", "ends_with", "contains", "prefix", "suffix", "regexp_matches",
		"regexp_full_match", "~~", "!~~", "~~*", "!~~*", "date_part", "datepart", "date_trunc", "datetrunc",
		"date_diff", "datediff", "date_sub", "datesub", "date_add", "year", "month", "day", "quarter", "week",
		"weekofyear", "dayofweek", "isodow", "dayofyear", "dayofmonth", "yearweek", "isoyear", "hour", "minute",
		"second", "epoch", "last_day", "try_strptime", "to_years", "to_months", "to_days", "to_weeks",
		"to_hours", "to_minutes", "to_seconds", "current_date", "today", "age", "like_escape", "ilike_escape")
	// Functions whose result is one of their arguments.
	choiceFuncs = setOf("coalesce", "ifnull", "greatest", "least", "nullif")
	// Aggregates and window functions whose result is one of their first argument's values.
	firstArgFuncs = setOf("min", "max", "any_value", "first", "arg_min", "arg_max", "min_by", "max_by",
		"arg_min_null", "arg_max_null", "median", "quantile_disc", "lag", "lead", "first_value", "last_value",
		"nth_value")
	// Functions that compare their arguments as a comparison operator does.
	comparingFuncs = setOf("nullif", "greatest", "least")
)

// kindOf is the kind of an expression the checks have walked (column references carry their
// kind), or "" when it cannot be told without binding.
func kindOf(n node) string {
	switch str(n, "class") {
	case "COLUMN_REF":
		k, _ := n[annKind].(string)
		if names := strings_(n, "column_names"); k == "" && len(names) == 1 && sqlValueFunctions[strings.ToLower(names[0])] {
			return kindOther // current_date and the like, bound as functions
		}
		return k
	case "CONSTANT":
		v := obj(n, "value")
		if v["is_null"] == true {
			return ""
		}
		return kindOfType(str(obj(v, "type"), "id"))
	case "CAST":
		return kindOfType(str(obj(n, "cast_type"), "id"))
	case "COMPARISON", "CONJUNCTION", "BETWEEN":
		return kindBool
	case "OPERATOR":
		switch str(n, "type") {
		case "OPERATOR_COALESCE":
			return common(nodes(n, "children"))
		case "OPERATOR_NOT", "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL", "COMPARE_IN", "COMPARE_NOT_IN":
			return kindBool
		}
	case "CASE":
		var vs []node
		for _, cc := range nodes(n, "case_checks") {
			vs = append(vs, obj(cc, "then_expr"))
		}
		return common(append(vs, obj(n, "else_expr")))
	case "FUNCTION", "WINDOW":
		name := strings.ToLower(str(n, "function_name"))
		switch {
		case firstArgFuncs[name]:
			if ch := nodes(n, "children"); len(ch) > 0 {
				return kindOf(ch[0])
			}
		case aggKinds[name] != "" || windowFuncs[name] || perPersonAggs[name]:
			return kindOther // counts, sums, means, ranks, truth values
		case textFuncs[name]:
			return kindText
		case otherFuncs[name]:
			return kindOther
		case name == "if":
			if ch := nodes(n, "children"); len(ch) == 3 {
				return common(ch[1:])
			}
		case name == "nullif":
			if ch := nodes(n, "children"); len(ch) > 0 {
				return kindOf(ch[0])
			}
		case choiceFuncs[name]:
			return common(nodes(n, "children"))
		}
	}
	return ""
}

// common is the kind all of vs share (NULLs aside), or "".
func common(vs []node) string {
	k := ""
	for _, v := range vs {
		if v == nil || str(v, "class") == "CONSTANT" && obj(v, "value")["is_null"] == true {
			continue
		}
		vk := kindOf(v)
		if vk == "" || k != "" && vk != k {
			return ""
		}
		k = vk
	}
	return k
}

// mixedKinds refuses comparing values of kinds DuckDB would convert row by row: text with a
// number, date or truth value; a DATE from the data with a TIMESTAMP; a truth value with a date.
// DuckDB converts value by value as the query runs, and one that does not convert fails the
// query — only when a row reaches the comparison, so whether the query fails says whether some row passed the filters before it: a yes/no answer about, say, one person,
// with no threshold (security review F3, implicit form; explicit casts are refused already).
// Text constants too: DuckDB converts them only once a row arrives ('x' compared with an
// integer column fails only if some row reaches it; adversarial probe).
func mixedKinds(vs ...node) error {
	var text, other, boolean, dateData, timestamp node
	for _, v := range vs {
		switch kindOf(v) {
		case kindText:
			text = v
		case kindOther:
			other = v
		case kindBool:
			other, boolean = v, v
		case kindDate:
			other = v
			if containsColumn(v) {
				dateData = v
			}
		case kindTime:
			other, timestamp = v, v
		}
	}
	// A truth value compared with a date cannot be converted at all, and a DATE from the data
	// compared with a TIMESTAMP is converted row by row, which fails for dates beyond the
	// TIMESTAMP range (fourth probe).
	if boolean != nil && (dateData != nil || timestamp != nil) || dateData != nil && timestamp != nil {
		return refusef("This compares or combines a date with a timestamp or a truth value, which converts the data row by row; a value that does not convert would make the query fail only when some row reaches it. Compare like with like: CAST the timestamp to DATE with TRY_CAST, or compare with a DATE constant.")
	}
	if text == nil || other == nil {
		return nil
	}
	return refusef("This compares or combines text with a value that is not text, so the text would be converted as the query runs, and a value that does not convert would make the query fail only when some row reaches it. Compare like with like: write numbers without quotes, dates as DATE '2024-01-31', text in quotes ('12'), or convert with TRY_CAST(x AS type).")
}

// guard wraps each computation in a rewritten query — scalar functions, operators and casts, the
// outermost of each nest — in try(). An error on some row (an integer overflow, a date out of
// range, a pattern or date part taken from the data, a constant that does not convert, which
// DuckDB only converts once a row arrives) then gives NULL instead of failing the query, so
// whether a query fails never depends on the rows it reads (adversarial probe, this session).
// Comparisons and conjunctions are left bare, so filters still reach the scan; what they can
// raise themselves (text converted for a comparison or as a truth value) the checks refuse.
// Computations holding an aggregate, a window, a subquery or the rewrite's own columns are not
// wrapped whole; their parts are. (The analyst's SELECT list repeats GROUP BY expressions
// exactly, and both are wrapped alike, so they still match.)
func guard(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if guardable(v) {
			alias := v["alias"]
			v["alias"] = ""
			t := fn("try", v)
			t["alias"] = alias
			return t
		}
		for k, x := range v {
			v[k] = guard(x)
		}
	case []any:
		for i, x := range v {
			v[i] = guard(x)
		}
	}
	return v
}

// boundedAggs turn a huge value into an error (STDDEV and VARIANCE: "out of range") or into
// infinity (SUM, AVG, MEDIAN), which disclosure control refuses to check; see sde.MaxMagnitude.
var boundedAggs = setOf("sum", "avg", "mean", "median", "quantile_cont", "quantile_disc", "quantile",
	"stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop")

// bound gives every aggregate in boundedAggs (window functions too) a value argument within
// sde.MaxMagnitude: a computed argument becomes NULL beyond it, as it would for an error under
// try(). Ingest holds stored numbers within it already, so bare columns, constants and the
// rewrite's own columns stay as they are. It reads the checks' annotations: run before strip.
func bound(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			bound(x)
		}
		if c := str(v, "class"); (c == "FUNCTION" || c == "WINDOW") && boundedAggs[strings.ToLower(str(v, "function_name"))] {
			if ch := list(v, "children"); len(ch) > 0 {
				if a, ok := ch[0].(map[string]any); ok && unbounded(a) {
					ch[0] = withinMagnitude(a)
				}
			}
		}
	case []any:
		for _, x := range v {
			bound(x)
		}
	}
	return v
}

// unbounded reports whether n may hold a number beyond sde.MaxMagnitude.
func unbounded(n node) bool {
	switch str(n, "class") {
	case "CONSTANT":
		return false
	case "COLUMN_REF":
		names := strings_(n, "column_names")
		if n[annBase] == true || len(names) > 0 && strings.HasPrefix(names[len(names)-1], "__") {
			return false
		}
	}
	switch kindOf(n) {
	case kindText, kindBool, kindDate, kindTime:
		return false
	}
	return true
}

// withinMagnitude is CASE WHEN n BETWEEN -MaxMagnitude AND MaxMagnitude THEN n END: NULL for
// NaN and the infinities too.
func withinMagnitude(n node) node {
	lim := func(v float64) node {
		return node{"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": invalidLocation,
			"value": node{"type": node{"id": "DOUBLE", "type_info": nil}, "is_null": false, "value": json.Number(strconv.FormatFloat(v, 'e', -1, 64))}}
	}
	null := node{"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": invalidLocation,
		"value": node{"type": node{"id": "NULL", "type_info": nil}, "is_null": true}}
	between := node{"class": "BETWEEN", "type": "COMPARE_BETWEEN", "alias": "", "query_location": invalidLocation,
		"input": cloneNode(n), "lower": lim(-sde.MaxMagnitude), "upper": lim(sde.MaxMagnitude)}
	return node{"class": "CASE", "type": "CASE_EXPR", "alias": "", "query_location": invalidLocation,
		"case_checks": []any{node{"when_expr": between, "then_expr": n}}, "else_expr": null}
}

func guardable(n node) bool {
	switch str(n, "class") {
	case "FUNCTION":
		if rewriteAggregate(n) || strings.EqualFold(str(n, "function_name"), "try") {
			return false
		}
	case "CAST":
	case "COMPARISON", "BETWEEN", "CASE":
		// These convert their operands to a common type (a HUGEINT to DECIMAL, a DATE to
		// TIMESTAMP), which can fail for some values; between bare columns and constants it
		// cannot, and those stay bare so filters reach the scan.
		if bareOperands(n) {
			return false
		}
	case "OPERATOR":
		switch str(n, "type") {
		case "COMPARE_IN", "COMPARE_NOT_IN", "OPERATOR_COALESCE":
			if bareOperands(n) {
				return false
			}
		default:
			return false
		}
	default:
		return false
	}
	return !anyNode(n, func(c node) bool {
		switch str(c, "class") {
		case "WINDOW", "SUBQUERY":
			return true
		case "COLUMN_REF":
			// The rewrite's own columns (__l1.__set, ...): its computations on them are safe by
			// construction, and DuckDB cannot bind a grouped column inside try().
			names := strings_(c, "column_names")
			return len(names) > 0 && strings.HasPrefix(names[len(names)-1], "__")
		case "OPERATOR":
			return str(c, "type") == "GROUPING_FUNCTION"
		case "FUNCTION":
			return rewriteAggregate(c)
		}
		return false
	}, nil)
}

// unionKind is the kind of a set operation's column: text if either side is, unknown if either
// side is unknown.
func unionKind(l, r string) string {
	switch {
	case l == kindText || r == kindText:
		return kindText
	case l == "" || r == "":
		return ""
	case l == r:
		return l
	}
	return kindOther
}

// condition refuses text used as a truth value (WHERE code, NOT code, CASE WHEN code): DuckDB
// converts it row by row, and 'E11' does not convert.
func condition(ns ...node) error {
	for _, n := range ns {
		if n != nil && kindOf(n) == kindText {
			return refusef("A condition must be true or false, not text: compare the text with something (code = 'E11').")
		}
	}
	return nil
}

// argRules refuses arguments that fail or run away on some rows whatever try() does: an escape
// that is not one character, a window count that is not a positive number, a padding length the
// data could make huge (a query that runs out of time only when a row reaches it is an oracle too).
func argRules(name string, args []node) error {
	switch name {
	case "like_escape", "ilike_escape", "not_like_escape", "not_ilike_escape":
		if len(args) == 3 {
			if v, ok := constText(args[2]); !ok || len([]rune(v)) != 1 {
				return refusef("ESCAPE takes one character, written as a constant (ESCAPE '\\').")
			}
		}
	case "ntile":
		if len(args) != 1 || !constIntIn(args[0], 1, 1_000_000) {
			return refusef("ntile() takes a constant number of buckets, at least 1.")
		}
	case "replace", "regexp_replace":
		// Each nest multiplies the text: ten of them ran past the time limit only for rows that
		// reached them (second probe).
		if len(args) >= 3 {
			if v, ok := constText(args[2]); !ok || len(v) > 100 {
				return refusef("%s() takes a constant replacement of at most 100 characters.", name)
			}
		}
		if anyNode(args[0], growsText, nil) {
			return refusef("%s() cannot take the result of another replace(): the text could grow without bound.", name)
		}
	case "lpad", "rpad":
		// 100 pads any code; 1000 let a query within the expression bound make megabyte
		// strings of each row, which a person with many rows turns into a time-out.
		if len(args) != 3 || !constIntIn(args[1], 0, 100) {
			return refusef("%s() takes a constant length of at most 100.", name)
		}
		if v, ok := constText(args[2]); !ok || v == "" {
			return refusef("%s() takes a constant, non-empty padding.", name)
		}
	}
	return nil
}

// constText is the value of a text constant.
func constText(n node) (string, bool) {
	if str(n, "class") != "CONSTANT" || kindOf(n) != kindText {
		return "", false
	}
	s, ok := obj(n, "value")["value"].(string)
	return s, ok
}

// constIntIn reports whether n is an integer constant within [lo, hi].
func constIntIn(n node, lo, hi int64) bool {
	if str(n, "class") != "CONSTANT" {
		return false
	}
	var v int64
	if _, err := fmt.Sscan(fmt.Sprint(obj(n, "value")["value"]), &v); err != nil {
		return false
	}
	return v >= lo && v <= hi
}

// computesOnAggregate reports whether a scalar function, operator or cast in n takes an
// aggregate's or a window function's result: guard cannot wrap it (DuckDB allows neither inside
// try()), so max(units) * 2147483647 could overflow for some persons only.
func computesOnAggregate(n node) bool {
	return anyNode(n, func(c node) bool {
		switch str(c, "class") {
		case "FUNCTION":
			if isAggregate(c) {
				return false
			}
		case "CAST":
		default:
			return false
		}
		return anyNode(c, func(d node) bool { return isAggregate(d) || str(d, "class") == "WINDOW" }, nil)
	}, nil)
}

// rewriteAggregate reports whether n is an aggregate, the analyst's or the rewrite's own (list).
func rewriteAggregate(n node) bool {
	return isAggregate(n) || strings.EqualFold(str(n, "function_name"), "list")
}

// bareOperands reports whether every operand of n is a column reference or a constant.
func bareOperands(n node) bool {
	var ops []node
	switch str(n, "class") {
	case "COMPARISON":
		ops = []node{obj(n, "left"), obj(n, "right")}
	case "BETWEEN":
		ops = []node{obj(n, "input"), obj(n, "lower"), obj(n, "upper")}
	case "CASE":
		for _, cc := range nodes(n, "case_checks") {
			ops = append(ops, obj(cc, "then_expr"))
		}
		ops = append(ops, obj(n, "else_expr"))
		for _, cc := range nodes(n, "case_checks") {
			if w := obj(cc, "when_expr"); w != nil && !guardable(w) && !bareOperands(w) {
				return false
			}
		}
	default:
		ops = nodes(n, "children")
	}
	for _, o := range ops {
		if o == nil {
			continue
		}
		switch str(o, "class") {
		case "COLUMN_REF", "CONSTANT":
		case "CAST": // a typed constant (DATE '2024-01-31'), itself wrapped, folds to a constant
			if str(obj(o, "child"), "class") != "CONSTANT" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// maxConstScale bounds a decimal constant's digits after the point: compared with a BIGINT
// column, 1.0000000000000000000000000000000000001 makes DuckDB convert the column to
// DECIMAL(38,37), which fails for values of 10 and more — only when such a row arrives.
const maxConstScale = 18

// maxConstDigits bounds a decimal constant's digits in all, as specs bound columns'
// (catalog.MaxDecimalDigits), so that any two fit one common DECIMAL.
const maxConstDigits = 18

// growsText reports whether n is a call that can make text much longer than its input.
func growsText(n node) bool {
	if str(n, "class") != "FUNCTION" {
		return false
	}
	switch strings.ToLower(str(n, "function_name")) {
	case "replace", "regexp_replace":
		return true
	}
	return false
}
