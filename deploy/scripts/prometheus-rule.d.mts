/** Types of prometheus-rule.mjs, for the test that keeps its output in sync. */
export declare const ALERTS_FILE: string;
export declare const RULE_FILE: string;
export declare function renderPrometheusRule(alertsText: string): string;
