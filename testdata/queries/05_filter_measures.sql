-- Conditional counts need their own cell persons.
SELECT region,
       count(*) FILTER (WHERE code = 'E11') AS diabetes_events,
       count(DISTINCT person_id) FILTER (WHERE code = 'E11') AS diabetes_persons,
       count(*) AS events
FROM patients p JOIN gp_events g USING (person_id)
GROUP BY region
