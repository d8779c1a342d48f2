SELECT count(*) AS n, sum(cost) AS cost FROM admissions
