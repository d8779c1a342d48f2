-- lag() over all rows would read another person's value into this row.
SELECT prev, count(*) FROM (SELECT person_id, lag(region) OVER (ORDER BY birth_year) AS prev FROM patients) s GROUP BY prev
