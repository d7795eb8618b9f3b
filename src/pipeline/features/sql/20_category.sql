-- Category features (22-24). Only lines with a class count.
CREATE OR REPLACE TEMP TABLE f_class_rates AS
SELECT class, count(*) AS n, count(*) FILTER (returned) AS r, count(*) FILTER (returned) / count(*) AS rate
FROM f_lines2 WHERE class IS NOT NULL GROUP BY class;

-- A class is high-return when its line return rate is >= the 75th percentile (linear
-- interpolation, numpy's default) of the rates of all classes, each class counted once.
CREATE OR REPLACE TEMP TABLE f_high_classes AS
SELECT class FROM f_class_rates
WHERE rate >= (SELECT quantile_cont(rate, 0.75) FROM f_class_rates);

CREATE OR REPLACE TEMP TABLE f_category AS
WITH per_class AS (
  SELECT customer_id, class, count(*) AS n
  FROM f_lines2 WHERE class IS NOT NULL GROUP BY customer_id, class
), totals AS (
  SELECT customer_id, sum(n) AS classed, count(*) AS n_classes FROM per_class GROUP BY customer_id
), high AS (
  SELECT p.customer_id, sum(p.n) AS high_lines
  FROM per_class p JOIN f_high_classes h USING (class) GROUP BY p.customer_id
)
SELECT t.customer_id, t.n_classes, t.classed,
  t.n_classes / (SELECT count(*) FROM f_class_rates) AS category_diversity_score,
  (SELECT sum((p.n / t.classed) ^ 2) FROM per_class p WHERE p.customer_id = t.customer_id) AS category_loyalty_score,
  coalesce(h.high_lines, 0) / t.classed AS high_return_category_affinity
FROM totals t LEFT JOIN high h USING (customer_id);
