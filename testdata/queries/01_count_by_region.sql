-- Persons and events by region: the simplest accepted shape.
SELECT region, count(*) AS events, count(DISTINCT person_id) AS persons
FROM patients JOIN gp_events USING (person_id)
GROUP BY region
