namespace Vdi.Server.Accounts;

public static class Roles
{
    public const string Admin = Vdi.Protocol.SignedInUser.AdminRole;
    public const string User = "user";
}
