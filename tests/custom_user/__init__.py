"""A user model as teams that adopt dualauth write them: email login, UUID primary key."""
