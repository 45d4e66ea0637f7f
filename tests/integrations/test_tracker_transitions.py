"""Trackers move issues for the workflow rules: Jira through the transition that leads to the
status, Linear to the team's state of that name; both are ``TransitioningTracker``\\ s. The
fakes check every request against the vendors' API descriptions."""

from __future__ import annotations

import pytest

from integrations.jira.tracker import JiraTracker
from integrations.linear.credentials import LinearCredentials
from integrations.linear.tracker import LinearTracker
from productpilot.notify.channels import TransitioningTracker
from productpilot.vendors import RejectedRequestError, RetryPolicy
from tests.fakes.server import serving
from tests.integrations.jira.fake import FakeJira
from tests.integrations.linear.fake import API_KEY, FakeLinear


def test_jira_moves_an_issue_by_the_status_its_transition_leads_to() -> None:
    with FakeJira(("PAY",)) as jira:
        issue = jira.add_issue("PAY", "Refunds")
        tracker = JiraTracker(jira.credentials().get_hook())
        assert isinstance(tracker, TransitioningTracker)
        tracker.transition(issue.key, "in progress")
        assert jira.issue(issue.key).status == "In Progress"
        with pytest.raises(RejectedRequestError, match="no transition to status 'In Review'"):
            tracker.transition(issue.key, "In Review")
        assert jira.violations == []


def test_linear_moves_an_issue_to_its_teams_state_of_that_name() -> None:
    with serving(FakeLinear(teams=[("ENG", "Engineering")])) as linear:
        issue = linear.add_issue("ENG", "Fix login")
        credentials = LinearCredentials(api_key=API_KEY, url=linear.graphql_url)
        tracker = LinearTracker(credentials.get_hook(policy=RetryPolicy(attempts=1)))
        assert isinstance(tracker, TransitioningTracker)
        tracker.transition(issue.identifier, "Done")
        assert linear.issue(issue.identifier).state.name == "Done"
        with pytest.raises(RejectedRequestError, match="no workflow state 'Shipped'"):
            tracker.transition(issue.identifier, "Shipped")
