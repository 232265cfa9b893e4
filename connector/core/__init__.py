"""The pure scoring core: contact snapshot + history + rules + now -> scores, reasons, decision.

No IO, no clock reads, no globals; imports only `connector.core` and `connector.errors`. The one
exception is `rules_file.load_rules`, which reads the config file it is given.
"""
