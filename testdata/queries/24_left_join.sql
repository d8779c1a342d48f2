SELECT p.sex, count(DISTINCT a.person_id) AS admitted, count(DISTINCT p.person_id) AS persons, sum(a.cost) AS cost
FROM patients p LEFT JOIN admissions a ON p.person_id = a.person_id
GROUP BY p.sex
