"""What siaga does with backups, one module an action, over the restic command builders
(``siaga.backup.restic.commands``) and the one executor (``siaga.backup.process``):

| module | action |
| --- | --- |
| ``run.py`` | back up a job (paths, or a database dump streamed into restic), then copy it on |
| ``copy.py`` | copy a snapshot to a further target |
| ``forget.py`` | retention (forget) and prune |
| ``check.py`` | the repository's integrity check (rolling subsets) |
| ``drill.py`` | restore drills: restore into a scratch place, verify, measure the RTO |
| ``restore.py`` | restore for the bad day, and loading a stored dump into a database |

Each takes the :class:`~siaga.backup.site.BackupSite` it works in as its first argument;
:class:`~siaga.backup.manager.BackupManager` is the facade the CLI, the scheduler and the API call.
"""
