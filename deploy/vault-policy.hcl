# Vault policy for the SDE service. The linkage key never leaves Vault: the service may only
# ask for HMACs with it, and read its metadata to pin the latest version at start-up.
# Create the keys once:  vault secrets enable transit
#                        vault write -f transit/keys/sde-linkage
#                        vault write -f transit/keys/sde-workspace
path "transit/hmac/sde-linkage/*" {
  capabilities = ["update"]
}
path "transit/hmac/sde-workspace/*" {
  capabilities = ["update"]
}
path "transit/keys/sde-linkage" {
  capabilities = ["read"]
}
path "transit/keys/sde-workspace" {
  capabilities = ["read"]
}
# Deliberately absent: export, backup, rotate, config and delete on the keys. Key rotation is an
# operator action, followed by a re-ingest of every dataset with the new pinned version.
