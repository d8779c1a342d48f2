-- A CTE grouped by person keeps the person unit.
WITH diab AS (
  SELECT person_id, min(event_date) AS first_dx FROM gp_events WHERE code = 'E11' GROUP BY person_id
)
SELECT year(first_dx) AS yr, count(*) AS persons FROM diab GROUP BY yr ORDER BY yr
