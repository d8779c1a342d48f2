SELECT person_id, count(*) FROM gp_events GROUP BY person_id
