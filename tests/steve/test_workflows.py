import pytest

from jobs.defaults import OUTPUT_SCHEMAS
from tests.factories import CompanyFactory, default_workflows

pytestmark = pytest.mark.django_db


def test_a_published_versions_schema_is_its_own_not_the_default_it_came_from():
    receipt = default_workflows(CompanyFactory())[0]
    receipt.output_schema["properties"]["merchantName"] = {"type": "integer"}
    receipt.upload["maxFiles"] = 99
    assert OUTPUT_SCHEMAS[receipt.kind]["properties"]["merchantName"] != {"type": "integer"}
    again = default_workflows(CompanyFactory())[0]
    assert again.output_schema["properties"]["merchantName"] != {"type": "integer"}
    assert again.upload["maxFiles"] != 99
