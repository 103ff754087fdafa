"""Trading on a venue: the venue-mode core, risk limits, the link to the venue's REST API and
private channels, reconciliation, and the shadow paper exchange beside it."""
