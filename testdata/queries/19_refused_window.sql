SELECT region, count(*) OVER () FROM patients
