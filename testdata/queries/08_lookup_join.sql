-- Emergency admissions by deprivation decile through a lookup table.
SELECT l.imd_decile, count(*) AS admissions, count(DISTINCT a.person_id) AS persons
FROM admissions a JOIN patients p USING (person_id) JOIN lsoa_lookup l ON p.lsoa = l.lsoa
WHERE a.kind = 'emergency'
GROUP BY l.imd_decile
