SELECT region, count(DISTINCT person_id)
FROM (SELECT region, person_id || 'x' AS person_id FROM patients) s
GROUP BY region
