SELECT region, sex, count(*) AS n FROM patients GROUP BY CUBE (region, sex)
