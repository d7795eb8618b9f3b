-- Category features (22-24). Only lines with a class count. The class rates are stored (a few
-- rows, read three times); the customers' category features are a view.
CREATE OR REPLACE TEMP TABLE f_class_rates AS
SELECT kid, count(*) AS n, count(*) FILTER (returned) AS r, count(*) FILTER (returned) / count(*) AS rate
FROM f_lines2 WHERE kid IS NOT NULL GROUP BY kid;

-- A class is high-return when its line return rate is >= the 75th percentile (linear
-- interpolation, numpy's default) of the rates of all classes, each class counted once.
CREATE OR REPLACE TEMP TABLE f_high_classes AS
SELECT kid FROM f_class_rates
WHERE rate >= (SELECT quantile_cont(rate, 0.75) FROM f_class_rates);

CREATE OR REPLACE TEMP VIEW f_category AS
WITH per_class AS (
  SELECT cid, kid, count(*) AS n
  FROM f_lines2 WHERE kid IS NOT NULL GROUP BY cid, kid
), totals AS (
  SELECT cid, sum(n) AS classed, sum(n * n) AS classed_sq, count(*) AS n_classes FROM per_class GROUP BY cid
), high AS (
  SELECT p.cid, sum(p.n) AS high_lines
  FROM per_class p JOIN f_high_classes h USING (kid) GROUP BY p.cid
)
SELECT t.cid, t.n_classes, t.classed,
  t.n_classes / (SELECT count(*) FROM f_class_rates) AS category_diversity_score,
  t.classed_sq / (t.classed * t.classed) AS category_loyalty_score,
  coalesce(h.high_lines, 0) / t.classed AS high_return_category_affinity
FROM totals t LEFT JOIN high h USING (cid);
