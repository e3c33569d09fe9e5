"""One local Spark session for the tests that need Spark (pyspark and a Java runtime).

Without pyspark or Java the tests skip with what to install, except under CI (`CI=true`),
where they fail: a CI run that skipped them would prove nothing about the Spark engine.
"""

from __future__ import annotations

import os
import shutil

import pytest

SPARK_TEST_CONF = {
    # A few thousand people fit in one task: more partitions only add scheduling.
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "1g",
}


def missing_requirement() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'cxloop[spark]')"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java runtime (apt-get install openjdk-17-jre-headless)"
    return None


def require_spark() -> None:
    reason = missing_requirement()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the Spark tests cannot run: {reason} (CI must run them)")
    pytest.skip(f"Spark tests skipped: {reason}")


def start_session():
    """A local session with two cores and the engine's own settings applied."""
    from pyspark.sql import SparkSession

    from cxloop.engines.spark_engine import configure

    builder = SparkSession.builder.master("local[2]").appName("cxloop-tests")
    for key, value in SPARK_TEST_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    configure(session)
    return session
