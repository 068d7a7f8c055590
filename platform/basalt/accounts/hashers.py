"""Argon2id with a cost read from settings, so operators can tune it to their hardware; and a
verify-only bcrypt hasher for passwords imported from Parse Server."""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, BasePasswordHasher, mask_hash


class TunedArgon2PasswordHasher(Argon2PasswordHasher):
    algorithm = "argon2"

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_TIME_COST

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_MEMORY_COST_KIB

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return settings.ARGON2_PARALLELISM


class ImportedBcryptPasswordHasher(BasePasswordHasher):
    """Verifies bcrypt hashes brought in by a Parse Server import (`bcrypt_import$$2b$10$…`); never
    makes new ones. A successful sign-in rehashes the password with Argon2 (the preferred hasher),
    so the imported hash is used at most once per user.

    Parse Server hashes with bcryptjs, which uses the first 72 bytes of the UTF-8 password; the same
    cut here keeps every imported user's password working. Anything malformed is a wrong password."""

    algorithm = "bcrypt_import"
    library = "bcrypt"

    def encode(self, password, salt):
        bcrypt = self._load_library()
        return f"{self.algorithm}${bcrypt.hashpw(password.encode()[:72], salt.encode()).decode()}"

    def salt(self):
        return self._load_library().gensalt(10).decode()

    def verify(self, password, encoded):
        algorithm, _, data = encoded.partition("$")
        if algorithm != self.algorithm or not data.startswith(("$2a$", "$2b$", "$2y$")):
            return False
        try:
            return self._load_library().checkpw(password.encode()[:72], data.encode())
        except ValueError:
            return False

    def safe_summary(self, encoded):
        return {"algorithm": self.algorithm, "hash": mask_hash(encoded.partition("$")[2])}

    def must_update(self, encoded):
        return True

    def harden_runtime(self, password, encoded):
        pass
