"""Trials, nodes, networks and the trial makers that hand them to participants.

An app of its own above `experiments`, `assets` and `sync` (see ARCHITECTURE.md); its tables keep
the names they had when it lived in `experiments/trials/` (`experiments_trial`, ...).

Layout (import from the submodules, or from `experiments.api`):

- `typed`     the class registry: rows carry a `type`, load back as that class, need no migrations
- `models`    Network, Node, Trial (the three tables) and the hooks researchers override
- `maker`     TrialMaker: the timeline element (a Module) that runs trials for a participant
- `static`    StaticTrialMaker / StaticNode / StaticTrial: fixed stimuli, balanced allocation
- `chain`     ChainTrialMaker / ChainNetwork / ChainNode / ChainTrial: each answer seeds a node
- `services`  every write (allocation, finalizing, failing, deploying, growing chains)
- `selectors` reads (allocation candidates, progress)
- `tasks`     Celery: `async_on_deploy` of nodes
- `admin`     Django admin for the three tables
"""
