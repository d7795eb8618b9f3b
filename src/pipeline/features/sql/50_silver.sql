-- The silver layer: one row per customer, the 33 features of FEATURES.md in its order and with its
-- names, NULL where FEATURES.md says NULL, plus `eligible`. Placeholders: {W_DAYS}, {MIN_ORDERS},
-- {ORDER_VALUE_COLUMNS} (the optional GROSS features, or nothing).
-- The families (10-40) are views, so this one statement computes all of them: DuckDB plans the
-- whole query and schedules the families itself instead of storing each in turn.
CREATE OR REPLACE TEMP TABLE f_silver AS
SELECT
  ck.customer_id,
  -- Volume
  c.n_orders AS sales_order_no_nunique,
  a.sku_nunique,
  a.items_returned_count,
  a.sales_qty_mean,
  a.units / c.n_orders AS avg_order_size,
  -- Return behaviour
  a.returned_lines / a.n_lines AS return_rate,
  a.return_ratio,
  a.return_product_variety,
  a.returned_lines / c.n_orders AS avg_returns_per_order,
  a.return_trips / c.n_orders AS return_frequency_ratio,
  a.return_intensity,
  coalesce(r.consecutive_returns, 0) AS consecutive_returns,
  coalesce(r.avg_consecutive_returns, 0.0) AS avg_consecutive_returns,
  -- Temporal
  c.lifetime_days AS customer_lifetime_days,
  a.avg_days_to_return,
  a.return_timing_spread,
  ({AS_OF_US} - c.last_us) / 86400e6 AS days_since_last_order,
  -- Recency
  ro.recent_orders,
  a.recent_returns,
  CASE WHEN a.returns_with_date > 0
       THEN (a.recent_returns / {W_DAYS}) / (a.returns_with_date / greatest(c.lifetime_days, {W_DAYS})) END
    AS recent_vs_avg_ratio,
  CASE WHEN h.n1 > 0 AND h.n2 > 0 THEN 1 - abs(h.r1 / h.n1 - h.r2 / h.n2) END AS behavior_stability_score,
  -- Category
  coalesce(cat.category_diversity_score, 0.0) AS category_diversity_score,
  cat.category_loyalty_score,
  cat.high_return_category_affinity,
  -- Adjacency
  coalesce(adj.sku_adjacency_orders, 0) AS sku_adjacency_orders,
  coalesce(adj.sku_adjacency_returns, 0) AS sku_adjacency_returns,
  adj.sku_adjacency_timing,
  adj.sku_adjacency_return_timing,
  -- Seasonal
  s.seasonal_susceptibility_orders,
  s.seasonal_susceptibility_returns,
  -- Trend
  t.trend_product_category_order_rate,
  t.trend_product_category_return_rate,
  -- Label
  CASE WHEN c.lifetime_days <= 90 THEN 'New'
       WHEN c.lifetime_days <= 180 THEN 'Growing'
       WHEN c.lifetime_days <= 365 THEN 'Mature'
       ELSE 'Veteran' END AS customer_tenure_stage,
  {ORDER_VALUE_COLUMNS}
  c.n_orders >= {MIN_ORDERS} AS eligible
FROM f_customers c
JOIN f_customer_keys ck USING (cid)
JOIN f_line_aggs a USING (cid)
JOIN f_recent_orders ro USING (cid)
JOIN f_halves h USING (cid)
LEFT JOIN f_runs r USING (cid)
LEFT JOIN f_category cat USING (cid)
LEFT JOIN f_adjacency adj USING (cid)
LEFT JOIN f_seasonal s USING (cid)
LEFT JOIN f_trend t USING (cid)
ORDER BY ck.customer_id;
