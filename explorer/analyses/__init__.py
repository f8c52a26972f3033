"""The report's analyses, one module each (explorer/report.py lists them in order).

An analysis computes its payload in the database, states its findings (each against a
baseline), and says how it appears in the report's workbook and on its page (its partial
under templates/explorer/analyses/). The contract is in base.py.
"""
