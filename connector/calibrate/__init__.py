"""Calibration: learn the scoring config's points and MQL line from what really happened.

The flow, one module a step (only `read` does IO; the rest is pure and takes `now` as an argument):

    read        contacts with propertiesWithHistory, from HubSpot (cached in the store, resumable)
    timeline    version lists -> each contact's values as of any instant; flat-history check
    outcomes    decision moment and outcome of each contact (or why it is left out)
    candidates  property definitions + values -> candidate rules (numbers binned, options grouped)
    features    rules evaluated by the scoring engine itself at each decision moment
    learn       integer points within a rule budget (scikit-learn), signs kept where they matter
    measure     AUC with its interval, lift by decile, conversion by grade and path, threshold
    config_out  the candidate scoring config, in the live config's schema, with its sources
    report      text and JSON
"""
