"""The Faust stream processor (DESIGN.md section 2): case table, SLA timers, alerts, rolling counts, early warning."""
