package auth;

/** What a role may do. */
public final class Roles {
    public static boolean isAdmin(String role) {
        return role == "admin";
    }
}
