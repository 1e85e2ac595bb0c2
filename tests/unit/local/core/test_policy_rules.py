"""What AWS IoT's control plane accepts as a policy: the CreatePolicy and CreatePolicyVersion
API references (name, document size without whitespace, five versions), the IoT Core quotas
(ten policies per certificate), and CloudFormation's update of an AWS::IoT::Policy."""

from __future__ import annotations

import json

import pytest

from swan.local.core.policy import PolicyDocument, PolicyDocumentError, UnsupportedPolicyError
from swan.local.core.policy_rules import (
    MAX_DOCUMENT_CHARACTERS,
    MAX_POLICIES_PER_TARGET,
    MAX_POLICY_VERSIONS,
    NewDefaultVersion,
    PolicyAttachmentLimitError,
    PolicyNameError,
    PolicyTooLongError,
    PolicyVersionsLimitError,
    StoredVersion,
    Unchanged,
    check_attachment,
    check_new_version,
    check_policy_document,
    check_policy_name,
    decode_policy,
    document_size,
    plan_update,
)


def policy_of_size(size, *, indent=None):
    """A valid policy document of exactly `size` characters without whitespace."""
    base = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*"}]}
    base["Statement"][0]["Resource"] = ""
    padding = size - document_size(json.dumps(base, separators=(",", ":")))
    base["Statement"][0]["Resource"] = "x" * padding
    return json.dumps(base, indent=indent)


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["swan-device", "a", "A_b+c=d,e.f@g-h", "x" * 128])
def test_a_policy_name_of_letters_digits_and_the_allowed_signs_is_taken(name):
    assert check_policy_name(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("x" * 129, "longer than 128"),
        ("no spaces", "only letters"),
        ("slash/no", "only letters"),
        ("naïve", "only letters"),  # Java's \w, as AWS's pattern reads, is ASCII
    ],
)
def test_a_policy_name_aws_refuses_is_refused_saying_why(name, problem):
    with pytest.raises(PolicyNameError, match=problem) as refused:
        check_policy_name(name)
    assert (refused.value.name, isinstance(refused.value, ValueError)) == (name, True)


# ---------------------------------------------------------------- document size


def test_the_size_of_a_document_does_not_count_whitespace():
    assert document_size('{ "a" :\n\t[ 1 ,\r 2 ] }') == len('{"a":[1,2]}')


def test_a_document_of_exactly_2048_characters_without_whitespace_is_taken():
    text = policy_of_size(MAX_DOCUMENT_CHARACTERS, indent=8)
    assert len(text) > MAX_DOCUMENT_CHARACTERS  # its whitespace does not count
    assert isinstance(check_policy_document(text), PolicyDocument)


def test_a_document_one_character_over_2048_is_refused_with_its_size():
    with pytest.raises(PolicyTooLongError, match="2,049 characters without whitespace") as refused:
        check_policy_document(policy_of_size(MAX_DOCUMENT_CHARACTERS + 1))
    assert (refused.value.characters, refused.value.limit) == (2049, 2048)
    assert "at most 2,048" in str(refused.value)


def test_an_over_long_document_is_refused_before_it_is_parsed():
    with pytest.raises(PolicyTooLongError):
        check_policy_document("[" * 3000)


@pytest.mark.parametrize("text", ["", "  \n\t "])
def test_an_empty_document_is_refused(text):
    with pytest.raises(PolicyDocumentError, match="empty"):
        check_policy_document(text)


# ---------------------------------------------------------------- JSON and elements


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not JSON"),
        ('{"Version": NaN}', "not JSON"),
        ('{"Version": "2012-10-17", "Sid": "\\ud800"}', "not JSON"),
        ("[" * 1024 + "]" * 1024, "nested too deeply"),
    ],
)
def test_text_that_is_not_json_is_refused(text, problem):
    with pytest.raises(PolicyDocumentError, match=problem):
        check_policy_document(text)


def test_decoding_gives_the_json_value():
    assert decode_policy('{"a": [1]}') == {"a": [1]}


def allow(**statement):
    return {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", **statement}


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"Statement": [allow()]}, "Version"),
        ({"Version": "2012-10-17"}, "Statement"),
        ({"Version": "2012-10-17", "Statement": [{"Action": "iot:*", "Resource": "*"}]}, "Effect"),
        ({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Action"),
        (
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*"}]},
            "Resource",
        ),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_a_document_without_version_statement_effect_action_or_resource_is_refused(document, where):
    with pytest.raises(PolicyDocumentError, match=where):
        check_policy_document(json.dumps(document))


def test_a_condition_is_refused_as_unsupported_not_as_malformed():
    document = {"Version": "2012-10-17", "Statement": [allow(Condition={"Bool": {"a": "true"}})]}
    with pytest.raises(UnsupportedPolicyError):
        check_policy_document(json.dumps(document))


def test_a_valid_document_is_returned_parsed():
    parsed = check_policy_document(json.dumps({"Version": "2012-10-17", "Statement": allow()}))
    assert [s.actions for s in parsed.statements] == [("iot:Connect",)]


# ---------------------------------------------------------------- versions and attachments


def test_a_policy_takes_versions_up_to_five_and_refuses_a_sixth():
    for existing in range(MAX_POLICY_VERSIONS):
        check_new_version("swan-device", existing)
    with pytest.raises(PolicyVersionsLimitError, match="maximum of 5 versions") as refused:
        check_new_version("swan-device", MAX_POLICY_VERSIONS)
    assert (refused.value.name, refused.value.limit) == ("swan-device", 5)


def test_a_target_takes_policies_up_to_ten_and_refuses_an_eleventh():
    for attached in range(MAX_POLICIES_PER_TARGET):
        check_attachment("arn:cert", attached)
    with pytest.raises(PolicyAttachmentLimitError, match="maximum of 10 policies") as refused:
        check_attachment("arn:cert", MAX_POLICIES_PER_TARGET)
    assert (refused.value.target, refused.value.limit) == ("arn:cert", 10)


# ---------------------------------------------------------------- CloudFormation's update

OLD, NEW = {"Version": "2012-10-17", "v": 1}, {"Version": "2012-10-17", "v": 2}


def versions(*ids, default, document=OLD):
    return [StoredVersion(i, i == default, document if i == default else {"v": i}) for i in ids]


def test_an_unchanged_document_changes_nothing():
    assert plan_update(versions(1, default=1), dict(OLD)) == Unchanged()


def test_a_document_held_by_a_version_that_is_not_the_default_is_still_a_change():
    stored = [StoredVersion(1, is_default=True, document=NEW), StoredVersion(2, False, OLD)]
    assert plan_update(stored, OLD) == NewDefaultVersion()


def test_the_same_values_of_other_json_types_are_a_change():
    assert plan_update(versions(1, default=1), {"Version": "2012-10-17", "v": True}) == (
        NewDefaultVersion()
    )


def test_a_changed_document_becomes_a_new_default_version_while_there_is_room():
    assert plan_update(versions(1, 2, 3, 4, default=4), NEW) == NewDefaultVersion(retire=None)


def test_at_five_versions_the_oldest_is_deleted_first():
    assert plan_update(versions(3, 4, 5, 6, 7, default=7), NEW) == NewDefaultVersion(retire=3)


def test_at_five_versions_the_oldest_goes_even_when_it_is_the_default():
    assert plan_update(versions(9, 10, 11, 12, 13, default=9), NEW) == NewDefaultVersion(retire=9)
