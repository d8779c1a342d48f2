SELECT person_id, region FROM patients
