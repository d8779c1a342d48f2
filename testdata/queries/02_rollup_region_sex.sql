-- ROLLUP: margins get a grouping id and per-person contributions per set.
SELECT region, sex, count(*) AS n, sum(value) AS total, avg(units) AS mean_units
FROM patients JOIN gp_events USING (person_id)
WHERE code = 'E11' AND event_date >= DATE '2021-01-01'
GROUP BY ROLLUP (region, sex)
ORDER BY region, sex
