namespace Vdi.Server.Accounts;

public static class Roles
{
    public const string Admin = "admin";
    public const string User = "user";
}
