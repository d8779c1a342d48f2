SELECT region, count(* FROM patients GROUP BY region
