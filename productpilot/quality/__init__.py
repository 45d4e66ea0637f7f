"""Development and QA logic: quality gates, DORA metrics, security findings, test reports."""
