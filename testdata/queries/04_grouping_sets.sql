SELECT region, sex, count(*) AS n FROM patients GROUP BY GROUPING SETS ((region), (sex), ())
