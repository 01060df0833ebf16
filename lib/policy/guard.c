/* placeholder: being written */
typedef int wsg_placeholder_policy_guard;
