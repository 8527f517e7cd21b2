"""Drives scimlet with a real SCIM client library (scim2-client, with the models it builds from
scimlet's own discovery endpoints) through Users and Groups CRUD, to prove interoperability
from the client side.

Usage: client_crud.py BASE_URL TOKEN. Prints "N passed, N failed"; exits 1 on a failure.
"""

import sys
import uuid

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import PatchOp


def main():
    base_url, token = sys.argv[1], sys.argv[2]
    http = httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    client.discover()
    user_model = client.get_resource_model("User")
    group_model = client.get_resource_model("Group")
    steps = []

    def step(name, fn):
        try:
            fn()
            steps.append((name, None))
        except Exception as exc:  # report every step, not just the first failure
            steps.append((name, exc))

    suffix = uuid.uuid4().hex[:8]
    state = {}

    def create_user():
        user = client.create(user_model(user_name=f"client.{suffix}@example.com", display_name="Client User"))
        assert user.id and user.meta.version, user
        state["user"] = user

    def query_user():
        found = client.query(user_model, query_parameters={"filter": f'userName eq "CLIENT.{suffix}@example.com"'})
        assert found.total_results == 1 and found.resources[0].id == state["user"].id, found

    def replace_user():
        user = state["user"]
        user.display_name = "Replaced"
        replaced = client.replace(user)
        assert replaced.display_name == "Replaced" and replaced.meta.version != user.meta.version, replaced
        state["user"] = replaced

    def patch_user():
        patch = PatchOp[user_model](operations=[{"op": "replace", "path": "title", "value": "Tester"}])
        patched = client.modify(user_model, state["user"].id, patch)
        assert patched.title == "Tester", patched

    def create_group():
        group = client.create(group_model(display_name=f"Client Group {suffix}", members=[{"value": state["user"].id}]))
        assert group.members and group.members[0].value == state["user"].id, group
        state["group"] = group

    def user_shows_group():
        user = client.query(user_model, state["user"].id)
        assert user.groups and user.groups[0].value == state["group"].id, user

    def delete_all():
        client.delete(group_model, state["group"].id)
        client.delete(user_model, state["user"].id)
        response = client.query(user_model, state["user"].id, raise_scim_errors=False)
        assert getattr(response, "status", None) in (404, "404"), response

    for name, fn in [
        ("create user", create_user),
        ("query user by userName", query_user),
        ("replace user", replace_user),
        ("patch user", patch_user),
        ("create group with member", create_group),
        ("user shows its group", user_shows_group),
        ("delete group and user", delete_all),
    ]:
        step(name, fn)
    failed = 0
    for name, exc in steps:
        if exc is None:
            print(f"ok      {name}")
        else:
            failed += 1
            print(f"FAILED  {name}: {exc!r}")
    print(f"{len(steps) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
