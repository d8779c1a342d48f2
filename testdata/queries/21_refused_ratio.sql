SELECT region, 100.0 * count(*) FILTER (WHERE sex = 'F') / count(*) AS pct_female FROM patients GROUP BY region
