SELECT count(*) FROM other_workspace.patients
