-- First recorded code per person: a window partitioned by person stays within one person's rows.
WITH first AS (
  SELECT person_id, code, row_number() OVER (PARTITION BY person_id ORDER BY event_date) AS rn
  FROM gp_events
)
SELECT code, count(*) AS persons FROM first WHERE rn = 1 GROUP BY code
