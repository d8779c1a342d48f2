SELECT src, count(DISTINCT person_id) AS persons
FROM (SELECT person_id, 'gp' AS src FROM gp_events UNION ALL SELECT person_id, 'hospital' FROM admissions) u
GROUP BY src
