/**
 * Types for parse-prometheus-text-format@1 (the package ships none).
 * Output follows prom2json: every value is a string as written in the text.
 *
 * Known behaviour of 1.1.1 that callers must work around (see prom-text.ts):
 * - histogram/summary families whose samples carry labels other than le /
 *   quantile are flattened into ONE entry and lose their _sum/_count;
 * - the last line is dropped unless the text ends with a newline;
 * - a malformed line throws (InvalidLineError) and aborts the whole parse.
 */
declare module 'parse-prometheus-text-format' {
  export type PromMetricType = 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';

  export interface PromSample {
    value?: string;
    labels?: Record<string, string>;
    timestamp_ms?: string;
    /** histogram: upper bound ("le") → cumulative count */
    buckets?: Record<string, string>;
    /** summary: quantile → value */
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }

  export interface PromFamily {
    name: string;
    help: string;
    type: PromMetricType;
    metrics: PromSample[];
  }

  export default function parsePrometheusTextFormat(text: string): PromFamily[];
}
