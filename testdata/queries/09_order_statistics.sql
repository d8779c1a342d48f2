-- MIN/MAX/MEDIAN pass through as their kinds; the policy decides.
SELECT kind, min(los) AS shortest, max(los) AS longest, median(cost) AS median_cost, quantile_cont(cost, 0.9) AS p90
FROM admissions GROUP BY kind
