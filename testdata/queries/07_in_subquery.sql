SELECT region, count(*) AS n FROM patients
WHERE person_id IN (SELECT person_id FROM admissions WHERE kind = 'emergency')
GROUP BY region
