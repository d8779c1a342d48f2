ATTACH '/tmp/x.db' AS x
