"""PLACEHOLDER until the risk warnings (compliance/warnings.py, issue 18) are merged: the
two reads of "does this customer have a severe risk warning" that the suitability engine
(compliance/suitability.py) calls. Both read nothing and answer "no".

LEAD, AT MERGE: point compliance.suitability at compliance.warnings' real functions (the
import at the top of compliance/suitability.py) and delete this module. The engine needs:
- has_severe_warning(customer_id: int, at: datetime) -> bool
- severe_warning_exists_sql(customer_id_column: str, at: datetime) -> (sql, params): an SQL
  boolean expression, EXISTS (an open severe warning of the customer in that column at
  `at`), with its parameters (psycopg `%s` placeholders), to be used as `NOT (<sql>)`.
"""

from datetime import datetime


def has_severe_warning(customer_id: int, at: datetime) -> bool:
    return False


def severe_warning_exists_sql(customer_id_column: str, at: datetime) -> tuple[str, list]:
    return "FALSE", []
