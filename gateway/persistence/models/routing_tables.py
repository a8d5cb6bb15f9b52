"""The routing tables: the draft admins edit (rules and per-task-type default
connectors) and the immutable published versions routing uses the newest of.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.persistence.models.table_base import Base, Id, utcnow

__all__ = ["RoutingDefault", "RoutingRule", "RuleSetVersion"]


class RoutingRule(Base):
    """One rule of the routing draft; published versions copy the whole draft."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(50), unique=True)
    connector: Mapped[str] = mapped_column(String(120), index=True)
    #: the rule as ``routing.rule_set.Rule.to_dict`` writes it
    rule_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoutingDefault(Base):
    """The draft's default connector for a task type (used when no rule matches)."""

    __tablename__ = "routing_defaults"

    task_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    connector: Mapped[str] = mapped_column(String(120), index=True)


class RuleSetVersion(Base):
    """A published, immutable rule set; routing uses the highest version."""

    __tablename__ = "rule_set_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(100))
    #: the version this one re-publishes (a rollback), if any
    source_version: Mapped[int | None] = mapped_column(Integer)
    rule_count: Mapped[int] = mapped_column(Integer)
    #: ``routing.rule_set.RuleSet.to_json``
    content_json: Mapped[str] = mapped_column(Text)
