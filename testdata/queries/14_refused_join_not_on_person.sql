SELECT count(*) FROM patients a JOIN gp_events b ON a.region = b.code
