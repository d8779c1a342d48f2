package analyse

import "strings"

// Kinds of value, as far as the analyser can tell without binding: text, anything else, or
// unknown (""). They serve one rule, mixedText.
const (
	kindText  = "text"
	kindOther = "other"
)

// kindOfType is the kind of a DuckDB type name.
func kindOfType(t string) string {
	t = strings.ToUpper(strings.TrimSpace(t))
	switch {
	case t == "":
		return ""
	case t == "VARCHAR" || strings.HasPrefix(t, "VARCHAR(") || t == "TEXT" || t == "STRING" || t == "CHAR" || t == "BPCHAR":
		return kindText
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
		"to_hours", "to_minutes", "to_seconds", "current_date", "today", "age")
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
		return kindOther
	case "OPERATOR":
		switch str(n, "type") {
		case "OPERATOR_COALESCE":
			return common(nodes(n, "children"))
		case "OPERATOR_NOT", "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL", "COMPARE_IN", "COMPARE_NOT_IN":
			return kindOther
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

// mixedText refuses comparing text that comes from the data with a number, date or truth
// value. DuckDB then converts the text value by value as the query runs, and one that does not
// convert fails the query — only when a row reaches the comparison, so whether the query fails
// says whether some row passed the filters before it: a yes/no answer about, say, one person,
// with no threshold (security review F3, implicit form; explicit casts are refused already).
// Text constants are converted once, whatever the data, and are fine.
func mixedText(vs ...node) error {
	var dataText, other node
	for _, v := range vs {
		switch kindOf(v) {
		case kindText:
			if containsColumn(v) {
				dataText = v
			}
		case kindOther:
			other = v
		}
	}
	if dataText == nil || other == nil {
		return nil
	}
	return refusef("This compares text with a value that is not text, so each text value would be converted as the query runs, and one that does not convert would make the query fail only when some row reaches it. Compare like with like: quote the value ('12'), or convert the text with TRY_CAST(x AS type).")
}
