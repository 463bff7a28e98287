"""The plan: typed steps and ids, names and labels, wiring, relays, checks, and
`build_plan` (a loaded project and its credentials to the final plan). Pure."""
